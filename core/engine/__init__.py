"""The engine: settings, MNIST, the network, the trainer, the run store and the CLI. Imports nothing else of core."""
