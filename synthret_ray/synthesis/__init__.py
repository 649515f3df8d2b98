"""Generation tasks, one module each: a versioned prompt, an output parser and the filters for its noise."""
