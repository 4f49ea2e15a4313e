"""The ``values`` app of the data-binding project (model label ``values.integervalue``)."""
