"""Sources: fetching build inputs that live elsewhere (git repositories, ``ADD <url>``)."""
