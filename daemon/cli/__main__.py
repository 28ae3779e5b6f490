import sys

from handmap.daemon.cli import main

sys.exit(main())
