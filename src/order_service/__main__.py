from order_service.console import main

main()
