"""Use cases: each public function runs one transaction, asks the domain what may happen, writes change and event."""
