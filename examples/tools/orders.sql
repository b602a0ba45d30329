-- The order database the example tools read: created in memory from this file on the tool worker's start.
CREATE TABLE orders (
  order_id TEXT PRIMARY KEY,
  customer TEXT NOT NULL,
  item TEXT NOT NULL,
  quantity INTEGER NOT NULL,
  total REAL NOT NULL,
  status TEXT NOT NULL,
  ship_city TEXT NOT NULL
);
INSERT INTO orders VALUES
  ('A-1001', 'Maria Lopez', 'desk lamp', 2, 49.90, 'shipped', 'Lisbon'),
  ('A-1002', 'Maria Lopez', 'bookshelf', 1, 129.00, 'processing', 'Lisbon'),
  ('A-1003', 'Kenji Sato', 'office chair', 1, 189.50, 'delivered', 'Osaka'),
  ('A-1004', 'Amara Okafor', 'monitor stand', 3, 87.00, 'shipped', 'Lagos'),
  ('A-1005', 'Lukas Weber', 'standing desk', 1, 399.00, 'cancelled', 'Berlin'),
  ('A-1006', 'Kenji Sato', 'keyboard', 2, 118.00, 'processing', 'Osaka'),
  ('A-1007', 'Sofia Rossi', 'desk mat', 4, 55.60, 'delivered', 'Rome'),
  ('A-1008', 'Amara Okafor', 'webcam', 1, 64.99, 'shipped', 'Lagos');
