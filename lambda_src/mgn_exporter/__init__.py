"""MGN job log exporter: MGN job log items to EventBridge and CloudWatch Logs."""
