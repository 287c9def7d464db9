"""The camera and the document camera (高拍仪) of the five-piece kit.

- `errors`: the named errors, with words for the resident and for staff;
- `frames`: `Frame` and the latest-frame slot (`LatestFrame`) every reader takes from;
- `sources`: the `FrameSource` interface, the real backend (`OpenCvSource`, OpenCV's
  `VideoCapture`, V4L2 on Linux), the simulators (video file, image folder, synthetic
  scenes) and `open_source`, which builds the one the settings name;
- `scene`: synthetic scenes with known truth (card, voucher, QR code, page, face, empty),
  for the synthetic simulator and the vision tests;
- `service`: the thread per camera that owns its source, keeps the newest frame, reopens a
  lost camera with backoff and reports its health; `snapshot` for one picture;
- `v4l`: the video devices Linux offers, named, for `kiosk camera list` and `kiosk doctor`.

What the kiosk sees in the frames (cards, QR codes, pages, faces) lives in
`kiosk.devices.vision`.
"""
