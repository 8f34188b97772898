import sys

from ksched.cli.main import main

sys.exit(main())
