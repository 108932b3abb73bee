"""Where secrets come from. Each source returns name -> value; none writes anything."""
