"""The printer of the five-piece kit: the print queue in the local store (`jobs`), the
print service thread (`service`), and its backends (`backends`: CUPS, a folder for the
demo). Named errors for every way printing fails are in `errors`."""
