"""The lessons: autograd demos, the expression language, digits, inside the network, mistakes analysis."""
