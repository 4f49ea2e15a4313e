"""The chat demo driven by a real (headless) browser."""
