"""StoryMem Studio's Qt desktop editor (the storyboard). Imports no torch/diffusers at load."""
