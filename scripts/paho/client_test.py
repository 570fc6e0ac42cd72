"""Runs Paho's interoperability/client_test.py with host and port: it calls unittest.main(), which would read them as
its own options. Usage: python3 scripts/paho/client_test.py SUITE_DIR HOST PORT [TEST...]"""
import runpy, sys, unittest

suite, host, port = sys.argv[1:4]
only = sys.argv[4:]  # test names, e.g. Test.test_retained_messages
sys.path.insert(0, suite)
sys.argv = ["client_test.py", "--hostname=" + host, "--port=" + port, "-n", "test/nosubscribe"]
main = unittest.main
unittest.main = lambda *a, **k: main(*a, argv=["client_test.py", "-v", *only], **k)
runpy.run_path(suite + "/client_test.py", run_name="__main__")
