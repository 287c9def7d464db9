"""The PySide6 kiosk interface: the only package that imports Qt."""
