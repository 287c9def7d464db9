"""An emulated Chinese social security card (社会保障卡) for the test suite.

The card runs behind the real PC/SC stack - pyscard -> pcscd -> vpcd -> a TCP socket -
so the kiosk's reader code is tested exactly as it talks to a physical reader:

- ``tests.cardsim.card``: the card itself, pure logic (profiles, records, APDU handling);
- ``tests.cardsim.vpcd``: ``VirtualCard``, which plugs an emulated card into a vpcd slot;
- ``tests.cardsim.pcscd``: ``PcscDaemon``, a private pcscd with vpcd readers;
- ``tests.cardsim.fixtures``: the pytest fixtures ``pcscd`` and ``virtual_card``.

The card is written from the team's protocol notes on the card (cards.md in the shared
reference folder), not from the kiosk's reader code, so that it can catch mistakes in
that code. Nothing here logs personal data: only profile labels, command headers,
lengths and status words.
"""
