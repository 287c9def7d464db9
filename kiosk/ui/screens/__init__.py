"""The screens of the kiosk window, one module each; the window switches between them."""
