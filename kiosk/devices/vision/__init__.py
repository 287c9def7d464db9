"""What the kiosk sees: pictures from the camera and the document camera, understood.

Qt-free, like the rest of `devices`; every function takes and returns plain NumPy arrays
(BGR `uint8`, height × width × 3, as OpenCV and the camera slot hold them).

- `images`: load an image file (or its bytes) safely into a BGR array, save one back.
- `qr`: find and decode the QR codes in a frame; tell a medical-insurance voucher apart.
- `faces`: find faces, tell whether someone stands at the kiosk, check a portrait photo.
- `quads`: four-sided outlines, refined to a fraction of a pixel; true proportions.
- `card`: find a card held up to the camera and straighten it.
- `page`: find a page under the document camera, straighten, turn and clean it; PDF.
- `pipeline`: run the detectors on one frame and report what they see.
"""
