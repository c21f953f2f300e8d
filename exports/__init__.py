"""Files that leave the system: printed .docx in the official-document look, and upstream export files."""
