"""The district server: sync API, enrollment, admin, call queue and agent console."""
