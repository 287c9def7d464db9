"""The card reader of the five-piece kit: social security cards over PC/SC.

- `errors`: the named errors, with words for the resident and for staff;
- `ssse`: the card protocol, transport-free (`read_card(transmit) -> Identity`);
- `pcsc`: the real backend, pyscard's `smartcard.scard` over pcscd;
- `service`: the thread that owns PC/SC, reports reader and card events and reads cards.

The simulator is the real stack with a virtual reader: pcscd with vpcd and an emulated
card (tests/cardsim), so the kiosk's own code runs unchanged in tests and benchmarks.
"""
