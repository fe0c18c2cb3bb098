"""archivetag's own MiDashengLM-7B: loads the official safetensors, never runs remote code.

Entry points (import them from their modules; this package imports nothing heavy):
``loader.load_model``, ``generate.answer_tasks``, ``tiny.make_tiny``, ``hub.pull`` /
``hub.locate``, ``info.model_info``, ``provenance.result_key``, ``errors.ModelLoadError``.
"""
