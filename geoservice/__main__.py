from geoservice.cli import main

main(prog_name="python -m geoservice")
