"""The browser harness itself: it sees a page wider than its viewport, and the console."""

def test_tab_reports_overflow_and_console_errors(open_tab):
    tab = open_tab(390, 844)
    tab.page.set_content("<body style='margin:0'><div style='width:600px'>wide</div>"
                         "<script>console.error('boom')</script></body>")
    assert tab.horizontal_overflow() == 210
    assert tab.errors == ["boom"]
