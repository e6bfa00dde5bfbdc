# Deliberately broken: the load tests check the traceback reaches the log.
def application(environ, start_response)
    return []
