"""The images: the vertical stack and its verified tools."""
