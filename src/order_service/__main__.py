from order_service.cli import main

main()
