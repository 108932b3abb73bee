from tazpod.cli.main import main

raise SystemExit(main())
