"""AI content generation: prompts in the workspace's voice, providers behind a port, drafts."""
