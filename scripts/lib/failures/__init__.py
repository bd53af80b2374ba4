"""Failure intelligence: the classifier, the decision log, insights."""
