from mockforge.cli import main

main()
