from freecure_edit.cli.app import main

main()
