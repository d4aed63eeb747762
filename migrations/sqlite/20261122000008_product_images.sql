-- Product pictures are static files under /images/products/. Under /products/ the product page
-- route (/products/{id}) answered them with an HTML "not found" page, so every picture was broken.
UPDATE products SET image_path = '/images' || image_path WHERE image_path LIKE '/products/%';
