"""baton's library: the store's contracts and the pieces every command shares.

Nothing here prints, exits or does work at import time; the CLIs in scripts/ do.
"""
