"""Doorstep: the front-desk kiosk of a community service station (家门口服务站)."""

__version__ = "0.1.0"
