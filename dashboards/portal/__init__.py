"""公众服务门户 public portal (issue #10): a second Streamlit app, separate from the staff app."""
