"""Background jobs of the service (plans' solves, simulations): their lifecycle and runners."""
