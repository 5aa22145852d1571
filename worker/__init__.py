"""The reference F5-TTS RunPod serverless worker."""
