-- A small demo catalog for the storefront and product-aware chats.
INSERT INTO products (name, description, price_cents, image_path) VALUES
('Aurora Desk Lamp', 'A dimmable LED desk lamp with a warm-to-cool colour range (2700K-6500K), a USB-C charging port in the base and a 5-year warranty. Ships in 2 business days.', 5900, '/products/lamp.svg'),
('Nimbus Office Chair', 'An ergonomic mesh chair with adjustable lumbar support, 4D armrests and a 120 kg capacity. Assembly takes about 15 minutes; free returns within 30 days.', 34900, '/products/chair.svg'),
('Drift Noise-Cancelling Headphones', 'Over-ear wireless headphones with 40 hours of battery, active noise cancelling and multipoint Bluetooth 5.3. Includes a travel case.', 19900, '/products/headphones.svg'),
('Terra Standing Desk', 'An electric sit-stand desk (120x70 cm) with dual motors, 4 height presets and a bamboo top. Height range 62-127 cm; 7-year frame warranty.', 49900, '/products/desk.svg');
