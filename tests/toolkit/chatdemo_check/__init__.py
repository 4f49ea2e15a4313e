"""A script run inside the chat demo project by ``test_chatdemo.py``."""
