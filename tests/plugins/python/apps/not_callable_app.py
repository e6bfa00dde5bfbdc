application = 42
