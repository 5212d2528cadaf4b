"""What is not the product: the simulators Chathub is tested and demonstrated against.

- :mod:`chathub_sim.telegram`: a Telegram Bot API emulator with simulated users (``python -m chathub_sim.telegram``);
- :mod:`chathub_sim.meet`: a Google Meet API emulator (``python -m chathub_sim.meet``);
- :mod:`chathub_sim.demo`: a whole speed-dating event with simulated people (``python -m chathub_sim.demo``).

The simulators may import the product (``contracts``, ``chathub_common``, ``datemaker``, ``chathub_bot``);
the product never imports them. They are installed with the development requirements only, never in the image.
"""
