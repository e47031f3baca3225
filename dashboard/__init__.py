"""The marts in a browser: a Streamlit app over the published exports (``make dashboard``)."""
