"""An app module whose import fails, as a broken deploy would."""

raise ImportError("cannot import name 'settings' from 'myproject' (simulated broken deploy)")
