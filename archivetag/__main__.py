from archivetag.cli import main

main()
