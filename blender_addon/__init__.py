def register(): print('REG')
def unregister(): pass
