"""The dashboard's Textual CSS (`app.tcss`), shipped as package data and read through
`importlib.resources` by `Dashboard.CSS_PATH`. It holds no code and imports nothing; it is a
package only so that the stylesheet travels inside the wheel with the widgets it styles."""
