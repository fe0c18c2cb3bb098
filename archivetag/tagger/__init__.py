"""What the audio says: the MiDashengLM model, task prompts and output parsing."""
