from tazpod.cli import main

raise SystemExit(main())
