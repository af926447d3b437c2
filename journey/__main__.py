from journey.cli import main

main()
