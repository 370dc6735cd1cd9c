from freecure_edit.cli.main import main

main()
